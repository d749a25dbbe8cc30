package main_test

// unlimitedEnv lifts the request limits for the tests that load a server
// flat out to test something else (crash safety, rotation under load):
// the defaults, 50 requests/s per key, would refuse most of their
// requests.
var unlimitedEnv = []string{
	"HRGATE_LIMITS__CREDENTIAL__RATE=1000000/s", "HRGATE_LIMITS__CREDENTIAL__BURST=1000000",
	"HRGATE_LIMITS__CONSUMER__RATE=1000000/s", "HRGATE_LIMITS__CONSUMER__BURST=1000000",
	"HRGATE_LIMITS__GLOBAL__RATE=1000000/s", "HRGATE_LIMITS__GLOBAL__BURST=1000000",
	"HRGATE_LIMITS__MAX_CONCURRENT=10000",
}
