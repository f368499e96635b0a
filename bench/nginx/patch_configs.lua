-- wrk script: PATCH /v1/customer/jobs/job-NNNNNNN/configs over 1,000 jobs, with the token
-- from the environment (BENCH_TOKEN). Sent identically to nginx and to jobpatch-mock.
local token = os.getenv("BENCH_TOKEN") or "none"
wrk.method = "PATCH"
wrk.body = '{"taskTimeout":600,"jobTimeout":7200,"isTestJob":false}'
wrk.headers["Authorization"] = token
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "*/*"
local n = 0
request = function()
  n = n % 1000 + 1
  return wrk.format(nil, string.format("/v1/customer/jobs/job-%07d/configs", n))
end
