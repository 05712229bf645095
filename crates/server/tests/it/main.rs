//! Integration tests against the real server: random ports, real sockets,
//! both backends (PostgreSQL when `SWITCHBOARD_TEST_POSTGRES_URL` is set).

mod access;
mod backup;
mod cli_access_key;
mod cli_flow;
mod connect;
mod connect_clients;
mod connect_start;
mod delivery;
mod durability;
mod explain;
mod export;
mod files;
mod flow_steps;
mod flows;
mod fuzz;
mod harness;
mod hours;
mod http;
mod lock;
mod node;
mod overflow;
mod persistent;
mod response;
mod retention;
mod routing;
mod sockets;
mod web;
mod web_clients;
mod webhooks;
