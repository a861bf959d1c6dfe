-- POST /orders/ with a bearer token (env BENCH_TOKEN).
wrk.method = "POST"
wrk.path = "/orders/"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"items":[{"product_id":1,"quantity":2,"price":10.0},{"product_id":2,"quantity":1,"price":0.1}]}'
