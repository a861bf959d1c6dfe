// How a background duty judges a failure: a dependency that is down (transient: wait and
// try again, however long it takes), a message that can never succeed (permanent: dead
// letter it, with the reason), or anything else (unknown: retry a bounded number of
// times). Every client library throws a DependencyUnavailable subclass for "cannot reach,
// timed out, refused for now", so the classification is by type, never by message text.
#pragma once
#include <exception>
#include <stdexcept>
#include <string>

namespace os {

// A server (PostgreSQL, Redis, RabbitMQ) is unreachable, timed out, or refused the call
// for a reason that goes away by itself (read-only replica, loading, out of memory).
class DependencyUnavailable : public std::runtime_error {
 public:
  DependencyUnavailable(std::string dependency, const std::string& what)
      : std::runtime_error(what), dependency_(std::move(dependency)) {}
  // "postgres", "redis" or "rabbitmq".
  const std::string& dependency() const { return dependency_; }

 private:
  std::string dependency_;
};

// The input itself is wrong (malformed message, unknown task, an order that does not
// exist): retrying can never help.
class PermanentFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class FailureKind { Transient, Permanent, Unknown };

struct Failure {
  FailureKind kind = FailureKind::Unknown;
  std::string dependency;  // set for Transient
  std::string reason;      // never empty
};

// Classifies a caught exception. An exception without a message still gets a reason.
inline Failure classify(const std::exception_ptr& error) {
  auto reason = [](const char* what, const char* fallback) {
    return std::string(what != nullptr && *what != '\0' ? what : fallback);
  };
  try {
    std::rethrow_exception(error);
  } catch (const DependencyUnavailable& e) {
    return {FailureKind::Transient, e.dependency(), reason(e.what(), "dependency unavailable")};
  } catch (const PermanentFailure& e) {
    return {FailureKind::Permanent, "", reason(e.what(), "permanent failure")};
  } catch (const std::exception& e) {
    return {FailureKind::Unknown, "", reason(e.what(), "unexpected error")};
  } catch (...) {
    return {FailureKind::Unknown, "", "unexpected non-standard exception"};
  }
}

}  // namespace os
