//! Flows: declarative programs run inside a conversation (pre-chat bots,
//! forms, co-work between an agent and a customer, calls to other systems).
//!
//! A definition ([`model::Flow`]) is parsed and checked by [`parse`] before
//! it is stored; a run is stored state ([`run::Run`]) that the pure
//! interpreter ([`run::step`]) advances from the outcome of the step it was
//! in. The planner applies what the interpreter asks for in the same
//! transaction as the event that woke the run; what must leave the process
//! (HTTP calls, launching and routing) goes through the stored outbox.

pub mod events;
pub mod form;
pub mod graph;
pub mod model;
pub mod outside;
pub mod parse;
pub mod records;
pub mod run;
pub mod template;
pub mod webhooks;
