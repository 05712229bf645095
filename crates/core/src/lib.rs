//! The domain of Switchboard: conversations and their ordered logs.
//!
//! This crate holds the rules and no IO of its own. It defines the records
//! ([`model`], [`event`]), the writes ([`command`]) and how a batch of them is
//! planned ([`plan`]), the ports it drives ([`store::Store`], [`bus::Bus`],
//! [`clock::Clock`]), and the [`engine::Engine`] that the API calls: one
//! method per operation, with access checks and limits. It knows nothing of
//! HTTP, SQL or any vendor's wire format.

#![forbid(unsafe_code)]

pub mod access;
pub mod bus;
pub mod clock;
pub mod command;
pub mod engine;
pub mod error;
pub mod event;
pub mod export;
pub mod files;
pub mod flows;
pub mod ids;
mod located;
pub mod model;
pub mod plan;
pub mod rate;
pub mod retention;
pub mod routing;
pub mod store;
#[doc(hidden)]
pub mod strict_json;
pub mod timer;
pub mod token;
pub mod widget;

pub use error::{Error, ErrorCode, Result};
