//! AWS Signature Version 4, checked on requests signed by a workspace
//! access key (the Connect control plane).
