// Precompiled header for the I/O layers: the heavy Boost headers, parsed once. (No Beast
// here: only http/ and the layers above it see Beast, through http/pch.hpp.)
#pragma once
#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/json.hpp>
