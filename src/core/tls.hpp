// TLS for the clients that speak through Asio (Redis; the api's RabbitMQ readiness check):
// one client context per TlsSettings, always verifying the peer, and the name or IP the
// peer's certificate must carry. A plaintext connection never touches any of this.
#pragma once
#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>
#include <memory>
#include <stdexcept>
#include <string>

#include "config/settings.hpp"
#include "core/async.hpp"

namespace os::tls {

// The client context for `settings` (built once per distinct settings, then shared):
// verify_peer against settings.ca_file (the system's trust store when empty), with the
// client certificate and key when given. Throws std::runtime_error naming the file that
// could not be loaded.
std::shared_ptr<asio::ssl::context> client_context(const config::TlsSettings& settings);

// Before the handshake on `ssl` (an SSL*): SNI and the host name, or IP address, that the
// peer's certificate must name (checked by OpenSSL during the handshake).
void expect_peer(void* ssl, const std::string& host);

// Why a handshake on `ssl` failed, for the log: OpenSSL's verification result when the
// certificate was refused ("certificate verify failed: unable to get local issuer
// certificate"), else the error's message.
std::string handshake_failure(void* ssl, const boost::system::error_code& ec);

}  // namespace os::tls
