// Precompiled header for http/ and the layers that serve HTTP (api/, app/): core's, plus
// Boost.Beast.
#pragma once
#include "core/pch.hpp"
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
