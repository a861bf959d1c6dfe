// Users table access.
#pragma once
#include <optional>
#include <string>

#include "db/pg_pool.hpp"

namespace os::db {

struct User {
  std::int64_t id = 0;
  std::string email;
  std::string hashed_password;
  std::string created_at;
};

class UserRepository {
 public:
  explicit UserRepository(PgPool& pool) : pool_(pool) {}

  // nullopt when the email is already registered (also under a concurrent race).
  awaitable<std::optional<User>> insert(const std::string& email, const std::string& hash);
  awaitable<std::optional<User>> find_by_email(const std::string& email);
  awaitable<bool> exists(std::int64_t id);

 private:
  PgPool& pool_;
};

}  // namespace os::db
