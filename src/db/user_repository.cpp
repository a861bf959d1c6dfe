#include "db/user_repository.hpp"

namespace os::db {
namespace {
#define USER_COLUMNS "id, email, hashed_password, api_timestamp(created_at)"
const Statement kInsert{"users_insert",
                        "INSERT INTO users (email, hashed_password) VALUES ($1, $2) "
                        "ON CONFLICT (email) DO NOTHING RETURNING " USER_COLUMNS};
const Statement kFindByEmail{"users_find_by_email",
                             "SELECT " USER_COLUMNS " FROM users WHERE email = $1"};
const Statement kExists{"users_exists", "SELECT 1 FROM users WHERE id = $1"};
#undef USER_COLUMNS

std::optional<User> first_user(const PgResult& r) {
  if (r.rows() == 0) return std::nullopt;
  return User{r.integer(0, 0), std::string(r.text(0, 1)), std::string(r.text(0, 2)),
              std::string(r.text(0, 3))};
}
}  // namespace

awaitable<std::optional<User>> UserRepository::insert(const std::string& email,
                                                      const std::string& hash) {
  co_return first_user(co_await pool_.execute(kInsert, params(email, hash)));
}

awaitable<std::optional<User>> UserRepository::find_by_email(const std::string& email) {
  co_return first_user(co_await pool_.execute(kFindByEmail, params(email)));
}

awaitable<bool> UserRepository::exists(std::int64_t id) {
  co_return (co_await pool_.execute(kExists, params(std::to_string(id)))).rows() == 1;
}

}  // namespace os::db
