//! The connection pool and the migrations.

use std::borrow::Cow;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

/// A migration's text: one for both backends, or one for each where they differ (a database
/// is only ever one backend, and sqlx checks an applied migration's checksum against the text
/// of that backend's).
enum Sql {
    Both(&'static str),
    PerBackend {
        sqlite: &'static str,
        postgres: &'static str,
    },
}

/// The migrations, in order; applied when the database is opened. Versions 1 and 2 were
/// written by the spend-log store before this crate held the schema; their text is unchanged,
/// so databases migrated then are recognised.
const MIGRATIONS: &[(i64, &str, Sql)] = &[
    (
        1,
        "spend logs",
        Sql::Both(include_str!("../migrations/0001_spend_logs.sql")),
    ),
    (
        2,
        "end users by update time",
        Sql::Both(include_str!("../migrations/0002_end_users_updated_at.sql")),
    ),
    (
        3,
        "stored responses and conversations",
        Sql::Both(include_str!("../migrations/0003_state.sql")),
    ),
    (
        4,
        "background responses",
        Sql::Both(include_str!("../migrations/0004_background.sql")),
    ),
    (
        5,
        "virtual keys and teams",
        Sql::Both(include_str!("../migrations/0005_keys.sql")),
    ),
    (
        6,
        "a response's input in its row, output items as an index",
        Sql::PerBackend {
            sqlite: include_str!("../migrations/0006_response_input.sqlite.sql"),
            postgres: include_str!("../migrations/0006_response_input.postgres.sql"),
        },
    ),
];

/// The database cannot be opened, migrated or queried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseError(pub String);

impl std::fmt::Display for DatabaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DatabaseError {}

impl From<sqlx::Error> for DatabaseError {
    fn from(e: sqlx::Error) -> Self {
        DatabaseError(e.to_string())
    }
}

/// The migrations for one backend, up to a version.
#[derive(Debug)]
struct Embedded {
    sqlite: bool,
    up_to: i64,
}

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> futures_core::future::BoxFuture<'static, Result<Vec<Migration>, sqlx::error::BoxDynError>>
    {
        Box::pin(async move {
            Ok(MIGRATIONS
                .iter()
                .filter(|(version, _, _)| *version <= self.up_to)
                .map(|(version, description, sql)| {
                    let sql = match sql {
                        Sql::Both(sql) => sql,
                        Sql::PerBackend { sqlite: sql, .. } if self.sqlite => sql,
                        Sql::PerBackend { postgres: sql, .. } => sql,
                    };
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// An open database, migrated. Cheap to clone (the pool and the write lock are shared).
#[derive(Clone, Debug)]
pub struct Database {
    pool: AnyPool,
    sqlite: bool,
    /// Taken by this process's bulk writers (stored responses, spend logs) around their
    /// transactions. SQLite has one write lock, and a writer that finds it taken sleeps in
    /// SQLite's busy handler (1, 2, 5, 10, … 25 ms, whatever the holder's remaining time): a
    /// stall of the response store's writer stalls every save in flight. Waiting here instead
    /// wakes the next writer the moment the lock is free.
    writing: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl Database {
    /// Connects to `url` (`sqlite://…` or `postgres://…`) and applies the migrations.
    pub async fn open(url: &str) -> Result<Database, DatabaseError> {
        let database = Database::connect(url, if url.starts_with("sqlite:") { 4 } else { 8 })
            .await
            .map_err(|e| DatabaseError(format!("cannot open the database: {e}")))?;
        database.migrate(i64::MAX).await?;
        Ok(database)
    }

    /// [`Database::open`], migrated only up to `version`: for tests of a later migration on
    /// an older database.
    #[doc(hidden)]
    pub async fn open_at_version(url: &str, version: i64) -> Result<Database, DatabaseError> {
        let database = Database::connect(url, 1)
            .await
            .map_err(|e| DatabaseError(format!("cannot open the database: {e}")))?;
        database.migrate(version).await?;
        Ok(database)
    }

    /// Connects without migrating: for administration (creating a database) and tests.
    pub async fn admin(url: &str) -> Result<Database, DatabaseError> {
        Database::connect(url, 1)
            .await
            .map_err(|e| DatabaseError(format!("cannot connect: {e}")))
    }

    async fn connect(url: &str, connections: u32) -> Result<Database, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let pool = AnyPoolOptions::new()
            // SQLite takes one writer at a time; more connections only contend for its lock.
            .max_connections(connections)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        // On every connection: WAL lets readers run while the writer writes;
                        // busy_timeout makes a connection wait for the lock (a second gateway
                        // on the same file) instead of failing. synchronous=NORMAL is SQLite's
                        // advice for WAL: no fsync per commit, still never corrupt; a power
                        // cut (not a crash) may lose the last commits. temp_store keeps the
                        // statement journal of a bulk insert in memory, not a temp file.
                        for pragma in [
                            "PRAGMA journal_mode=WAL",
                            "PRAGMA busy_timeout=5000",
                            "PRAGMA synchronous=NORMAL",
                            "PRAGMA temp_store=MEMORY",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        Ok(Database {
            pool,
            sqlite,
            writing: std::sync::Arc::default(),
        })
    }

    async fn migrate(&self, up_to: i64) -> Result<(), DatabaseError> {
        let migrator = Migrator::new(Embedded {
            sqlite: self.sqlite,
            up_to,
        })
        .await
        .map_err(|e| DatabaseError(format!("cannot read the migrations: {e}")))?;
        // Two gateways starting together on one SQLite file race to migrate it (PostgreSQL
        // migrations take an advisory lock; SQLite's do not): the loser's migration fails and
        // rolls back, and on a retry it finds the migration applied.
        let mut attempt = 0;
        loop {
            match migrator.run(&self.pool).await {
                Ok(()) => return Ok(()),
                Err(e) if self.sqlite && attempt < 5 => {
                    attempt += 1;
                    tracing::debug!(error = %e, attempt, "retrying the migration");
                    tokio::time::sleep(std::time::Duration::from_millis(100 * attempt)).await;
                }
                Err(e) => return Err(DatabaseError(format!("cannot migrate the database: {e}"))),
            }
        }
    }

    /// Waits for this process's other bulk writers to finish their transaction (see
    /// `writing`); hold the guard until the transaction is committed.
    pub async fn write_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.writing.lock().await
    }

    /// The pool.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// True for SQLite (some statements differ).
    pub fn is_sqlite(&self) -> bool {
        self.sqlite
    }

    /// Runs one statement.
    pub async fn execute(&self, sql: &str) -> Result<(), DatabaseError> {
        sqlx::query(sql).execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
