module github.com/hrgate/hrgate

go 1.26
