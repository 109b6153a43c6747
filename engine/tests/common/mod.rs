//! Test databases: a SQLite file in a temp dir, or a PostgreSQL schema of its
//! own on the shared test database, so tests run in parallel and beside a
//! running `make serve`.

#![allow(dead_code)] // each test binary uses a different part of it
pub mod calls;

use engine::store::Store;
use std::sync::atomic::{AtomicU32, Ordering};

/// The PostgreSQL the store suite runs against; CI and this machine have it.
pub fn postgres_url() -> String {
    std::env::var("SWITCHYARD_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

pub struct TestDb {
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
    schema: Option<String>,
}

impl TestDb {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(&dir.path().join("switchyard.db"))
            .await
            .unwrap();
        TestDb {
            store,
            _dir: Some(dir),
            schema: None,
        }
    }

    pub async fn postgres() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let schema = format!(
            "t_{}_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let store = Store::connect_postgres(&postgres_url(), Some(&schema))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL at {} is required for the store suite: {e}",
                    postgres_url()
                )
            });
        TestDb {
            store,
            _dir: None,
            schema: Some(schema),
        }
    }

    /// Opens the same database again, as a restarted server would.
    pub async fn reopen(&self) -> Store {
        match &self.schema {
            Some(schema) => Store::connect_postgres(&postgres_url(), Some(schema))
                .await
                .unwrap(),
            None => {
                let dir = self._dir.as_ref().unwrap();
                Store::open_sqlite(&dir.path().join("switchyard.db"))
                    .await
                    .unwrap()
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(schema) = self.schema.take() else {
            return;
        };
        // Drop runs outside async; a short-lived runtime on its own thread
        // removes the schema even when the test panicked.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(pool) = sqlx::PgPool::connect(&postgres_url()).await {
                    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                        .execute(&pool)
                        .await;
                }
            });
        })
        .join();
    }
}

/// Runs one async story against SQLite and against PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    let db = $crate::common::TestDb::sqlite().await;
                    super::$name(&db).await;
                }

                #[tokio::test]
                async fn postgres() {
                    let db = $crate::common::TestDb::postgres().await;
                    super::$name(&db).await;
                }
            }
        )+
    };
}
