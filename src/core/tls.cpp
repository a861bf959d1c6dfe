#include "core/tls.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <map>
#include <mutex>
#include <tuple>

namespace os::tls {
namespace {

std::string openssl_error() {
  const auto code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

std::shared_ptr<asio::ssl::context> build(const config::TlsSettings& s) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  auto* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  if (s.ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(native) != 1) {
      throw std::runtime_error("cannot load the system's trusted CAs: " + openssl_error());
    }
  } else if (SSL_CTX_load_verify_locations(native, s.ca_file.c_str(), nullptr) != 1) {
    throw std::runtime_error("cannot load the CA file '" + s.ca_file + "': " + openssl_error());
  }
  if (!s.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(native, s.cert_file.c_str()) != 1) {
      throw std::runtime_error("cannot load the client certificate '" + s.cert_file +
                               "': " + openssl_error());
    }
    if (SSL_CTX_use_PrivateKey_file(native, s.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(native) != 1) {
      throw std::runtime_error("cannot load the client key '" + s.key_file +
                               "' (or it does not match the certificate): " + openssl_error());
    }
  }
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
  return ctx;
}

}  // namespace

std::shared_ptr<asio::ssl::context> client_context(const config::TlsSettings& settings) {
  static std::mutex mutex;
  static std::map<std::tuple<std::string, std::string, std::string>,
                  std::shared_ptr<asio::ssl::context>>
      contexts;
  const auto key = std::make_tuple(settings.ca_file, settings.cert_file, settings.key_file);
  std::lock_guard lock(mutex);
  auto& ctx = contexts[key];
  if (!ctx) ctx = build(settings);
  return ctx;
}

void expect_peer(void* ssl_handle, const std::string& host) {
  auto* ssl = static_cast<SSL*>(ssl_handle);
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(host, ec);
  auto* param = SSL_get0_param(ssl);
  if (!ec) {
    // An address is checked against the certificate's IP SANs (no SNI for an address).
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) {
      throw std::runtime_error("cannot verify the address " + host + ": " + openssl_error());
    }
    return;
  }
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (SSL_set1_host(ssl, host.c_str()) != 1 || SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) {
    throw std::runtime_error("cannot verify the host name " + host + ": " + openssl_error());
  }
}

std::string handshake_failure(void* ssl_handle, const boost::system::error_code& ec) {
  auto* ssl = static_cast<SSL*>(ssl_handle);
  std::string text = ec.message();
  if (ssl != nullptr) {
    const long result = SSL_get_verify_result(ssl);
    if (result != X509_V_OK) {
      text = std::string("certificate verify failed: ") + X509_verify_cert_error_string(result);
    }
  }
  ERR_clear_error();
  return text;
}

}  // namespace os::tls
