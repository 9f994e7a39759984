//! Stored responses and conversations on the gateway's database: the state store the gateway
//! uses, shared by every replica on that database, and the task that forgets responses past
//! their retention.

use std::sync::Arc;
use std::time::Duration;

use switchyard::Gateway;
use switchyard::state::State;
use switchyard_store::{Database, SqlStateStore};

/// How often expired responses are purged.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Gives `gateway` a state store on `database`, keeping responses `retention_days`, and starts
/// the purge of expired ones (the task holds only the store; it ends with the runtime).
pub fn attach(gateway: &Gateway, database: &Database, retention_days: u64) -> Result<(), String> {
    let state = State::new(
        Arc::new(SqlStateStore::new(database.clone())),
        retention_days,
    );
    let purged = state.clone();
    gateway
        .set_state(state)
        .map_err(|_| "the gateway's state store was already chosen".to_string())?;
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PURGE_EVERY);
        loop {
            every.tick().await;
            match purged.purge().await {
                Ok(0) => {}
                Ok(n) => tracing::info!("forgot {n} stored responses past their retention"),
                Err(e) => tracing::warn!(error = %e.message, "purging expired responses failed"),
            }
        }
    });
    Ok(())
}
