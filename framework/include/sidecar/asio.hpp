#pragma once

// The small part of Asio that public headers need. Beast stays out of public
// headers because it doubles the compile time of every file that includes it.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace sidecar {
namespace asio = boost::asio;
}  // namespace sidecar
