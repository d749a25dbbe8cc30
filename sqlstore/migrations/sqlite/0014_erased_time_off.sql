-- Erasing an employee now also hides and empties its time-off requests and
-- balances (sqlstore.EraseEmployee), which are stored in the clear and so
-- are not destroyed with the employee's data keys. Employees erased before
-- that kept theirs readable: this does for them what the erase now does.
-- Only an erase sets employees.deleted_at. The rows keep their ids and
-- remote ids, so that a source re-sending one finds the tombstone and is
-- refused; they take the employee's erasure time as their own, and
-- modified_at stays, since no consumer reads them any more.
UPDATE time_off_requests
SET type = '', status = '', start_date = '', end_date = '', amount = '', units = '',
    deleted_at = COALESCE(deleted_at, (SELECT e.deleted_at FROM employees e WHERE e.id = time_off_requests.employee_id))
WHERE employee_id IN (SELECT id FROM employees WHERE deleted_at IS NOT NULL)
  AND (deleted_at IS NULL OR type <> '' OR status <> '' OR start_date <> '' OR end_date <> '' OR amount <> '' OR units <> '');

UPDATE time_off_balances
SET policy_type = '', balance = '', used = '', units = '',
    deleted_at = COALESCE(deleted_at, (SELECT e.deleted_at FROM employees e WHERE e.id = time_off_balances.employee_id))
WHERE employee_id IN (SELECT id FROM employees WHERE deleted_at IS NOT NULL)
  AND (deleted_at IS NULL OR policy_type <> '' OR balance <> '' OR used <> '' OR units <> '');
