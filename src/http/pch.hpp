// Precompiled header for http/ and the layers that serve HTTP (api/, app/): core's, plus
// Boost.Beast.
#pragma once
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include "core/pch.hpp"
