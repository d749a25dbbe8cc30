-- Placeholder for migration 0008, which belongs to another branch
-- (webhooks). It exists only so that this branch's 0009 applies on its own;
-- delete it when the branches are merged.
SELECT 1;
