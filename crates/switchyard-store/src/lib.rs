//! switchyard's database: one schema for everything the gateway keeps (spend logs and end
//! users, stored responses and conversations), on SQLite (a file, the default) or PostgreSQL,
//! through sqlx's `Any` driver so that one set of queries and one set of migrations serves
//! both. Queries use `$N` placeholders, which both databases accept, each number once and in
//! order.
//!
//! * [`Database`]: the connection pool, opened with the migrations applied.
//! * [`SqlStateStore`]: the [`switchyard::state::StateStore`] on that database, so replicas
//!   sharing it share responses and conversations.

mod database;
mod state;

pub use database::{Database, DatabaseError};
pub use state::SqlStateStore;
