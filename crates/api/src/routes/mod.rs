//! The native API's handlers, one file per resource.

pub mod access_keys;
pub mod agents;
pub mod conversations;
pub mod directory;
pub mod entry_points;
pub mod export;
pub mod files;
pub mod flows;
pub mod hours;
pub mod log;
pub mod participants;
pub mod retention;
pub mod routing;
pub mod supervisor;
pub mod system;
