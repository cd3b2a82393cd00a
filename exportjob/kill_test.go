package exportjob

const killEnv = "EXPORTJOB_TEST_KILL_AT"

func killChild(point string) int { return 0 }
