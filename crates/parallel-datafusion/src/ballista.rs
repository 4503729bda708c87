//! `parallel_enrich` on Apache Ballista (the `ballista` feature): a scheduler, executors and
//! a client session, each with the function registered, in processes of their own.
//!
//! Ballista sends plans as protobuf and resolves functions by name, so each of the three
//! needs `parallel_enrich` where it builds its sessions:
//!
//! - the client plans the SQL: [`remote_context`];
//! - the scheduler plans each stage: [`run_scheduler`] gives its session builder the function;
//! - each executor decodes and runs its tasks: [`run_executor`] gives its function registry
//!   the function.
//!
//! The [`ParallelEnrich`] passed to each is the one that runs there: its client (so the API
//! key of that process), processor and time limits. Pass the same settings everywhere. The
//! `parallel-enrich-node` binary runs a scheduler or an executor with the client of the
//! environment (`PARALLEL_API_KEY`, `PARALLEL_BASE_URL`).
//!
//! When an executor is lost, the scheduler notices (heartbeats), resets the stages whose
//! tasks ran there and runs them again on the executors left. Run the query with
//! `'group=<id>'` and a row key (see the crate README) so that those tasks find the runs
//! their first attempt created instead of paying for them again.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ballista::prelude::SessionContextExt;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::session_state::SessionState;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::ParallelEnrich;

/// A session state with the default functions and `parallel_enrich` (with its
/// `parallel.*` settings) registered.
pub fn session_state(enrich: &ParallelEnrich, config: SessionConfig) -> SessionState {
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .build();
    let ctx = SessionContext::new_with_state(state);
    enrich.clone().register(&ctx);
    ctx.state()
}

/// How a scheduler watches its executors.
#[derive(Debug, Clone, Copy)]
pub struct SchedulerOptions {
    /// An executor silent this long is lost: its tasks run again elsewhere (default 30 s;
    /// executors of [`run_executor`] beat every second).
    pub executor_timeout: Duration,
    /// The most attempts of one task before the query fails (default 4).
    pub task_max_failures: usize,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        Self {
            executor_timeout: Duration::from_secs(30),
            task_max_failures: 4,
        }
    }
}

/// Runs a Ballista scheduler on `address` until the process ends; its sessions have
/// `parallel_enrich` as `enrich` registers it.
pub async fn run_scheduler(
    enrich: ParallelEnrich,
    address: SocketAddr,
    options: SchedulerOptions,
) -> Result<()> {
    let mut config = SchedulerConfig::default()
        .with_hostname(address.ip().to_string())
        .with_port(address.port())
        // A lost executor is removed at once, not after a grace period.
        .with_remove_executor_wait_secs(0);
    config.bind_host = address.ip().to_string();
    config.executor_timeout_seconds = options.executor_timeout.as_secs().max(1);
    config.task_max_failures = options.task_max_failures;
    let cluster = BallistaCluster::new_memory(
        address.to_string(),
        Arc::new(move |config| Ok(session_state(&enrich, config))),
        Arc::new(ballista_core::utils::default_config_producer),
    );
    ballista_scheduler::scheduler_process::start_server(cluster, address, Arc::new(config))
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))
}

/// Where an executor listens and which scheduler it serves.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler's address.
    pub scheduler: SocketAddr,
    /// The address of the executor's shuffle (Arrow Flight) service; its gRPC service
    /// listens on the next port.
    pub flight: SocketAddr,
    /// Tasks run at once (default: the machine's cores).
    pub task_slots: usize,
}

/// Runs a Ballista executor until the process ends; it decodes and runs `parallel_enrich`
/// with `enrich` (its client, so this process's API key, and its settings).
pub async fn run_executor(enrich: ParallelEnrich, options: ExecutorOptions) -> Result<()> {
    let registry = BallistaFunctionRegistry::from(&session_state(&enrich, SessionConfig::new()));
    let host = options.flight.ip().to_string();
    let config = ExecutorProcessConfig {
        bind_host: host.clone(),
        external_host: Some(host),
        port: options.flight.port(),
        grpc_port: options.flight.port().saturating_add(1),
        scheduler_host: options.scheduler.ip().to_string(),
        scheduler_port: options.scheduler.port(),
        vcores: options.task_slots.max(1),
        executor_heartbeat_interval_seconds: 1,
        override_function_registry: Some(Arc::new(registry)),
        ..ExecutorProcessConfig::default()
    };
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))
}

/// A client session on the Ballista scheduler at `scheduler`, with `parallel_enrich`
/// registered for planning.
pub async fn remote_context(
    enrich: &ParallelEnrich,
    scheduler: SocketAddr,
    config: SessionConfig,
) -> Result<SessionContext> {
    let url = format!("df://{scheduler}");
    let ctx = SessionContext::remote_with_state(&url, session_state(enrich, config)).await?;
    // Ballista builds the remote session's state anew: the function is registered there.
    enrich.clone().register(&ctx);
    Ok(ctx)
}
