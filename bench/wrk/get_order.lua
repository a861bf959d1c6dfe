-- GET /orders/{id}/ with a bearer token (env BENCH_TOKEN, BENCH_ORDER_ID).
wrk.method = "GET"
wrk.path = "/orders/" .. os.getenv("BENCH_ORDER_ID") .. "/"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
