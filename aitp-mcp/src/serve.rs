//! The two MCP transports: stdio (the host starts the gateway as a process) and streamable
//! HTTP (the host connects to a URL; each MCP session gets the same gateway).

use std::{net::SocketAddr, sync::Arc};

use rmcp::{
    ServiceExt as _,
    transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    },
};
use tokio_util::sync::CancellationToken;

use crate::gateway::Gateway;

/// The path the streamable HTTP endpoint is served at.
pub const MCP_PATH: &str = "/mcp";

/// Serves `gateway` on stdin/stdout until the host closes them.
pub async fn stdio(gateway: Gateway) -> std::io::Result<()> {
    let running = gateway
        .serve(rmcp::transport::stdio())
        .await
        .map_err(std::io::Error::other)?;
    running.waiting().await.map_err(std::io::Error::other)?;
    Ok(())
}

/// The streamable HTTP endpoint as an axum router (the endpoint at [`MCP_PATH`]), to serve
/// or to mount beside other routes. Sessions are kept (elicitation needs the host's answer to
/// reach the call that asked); they end when `shutdown` is cancelled.
///
/// Only loopback `Host` headers are accepted (against DNS rebinding), unless `allowed_hosts`
/// names others.
pub fn http_router(
    gateway: Gateway,
    allowed_hosts: &[String],
    shutdown: CancellationToken,
) -> axum::Router {
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(true)
        .with_cancellation_token(shutdown);
    if !allowed_hosts.is_empty() {
        let mut hosts = config.allowed_hosts.clone();
        hosts.extend(allowed_hosts.iter().cloned());
        config = config.with_allowed_hosts(hosts);
    }
    let service = StreamableHttpService::new(
        move || Ok(gateway.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    axum::Router::new().route_service(MCP_PATH, service)
}

/// Serves the streamable HTTP endpoint on `listener` until `shutdown` is cancelled.
pub async fn http(
    gateway: Gateway,
    listener: tokio::net::TcpListener,
    allowed_hosts: &[String],
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let router = http_router(gateway, allowed_hosts, shutdown.clone());
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

/// The URL of the endpoint served at `addr`.
pub fn http_url(addr: SocketAddr) -> String {
    format!("http://{addr}{MCP_PATH}")
}
