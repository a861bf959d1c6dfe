// The api's route table: the one place that maps paths to handlers.
#pragma once
#include "api/context.hpp"
#include "http/router.hpp"

namespace os::api {
void add_routes(http::Router& router, ApiContext& ctx);
}
