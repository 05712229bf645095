//! Routing chats to agents: agents and their presence, queues, workflows,
//! tasks and offers, and the matching the router does.
//!
//! Like the rest of the core this does no IO. The rules that keep routing
//! transactional (capacity, one assignment per chat) are applied by the batch
//! planner under the same locks as the conversation log; the router only
//! proposes offers, which the planner accepts or refuses.

pub mod explain;
pub mod expr;
pub mod hours;
pub mod matcher;
pub mod model;
pub mod position;
pub mod workflow;
