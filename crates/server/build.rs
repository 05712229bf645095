//! Turns on the PostgreSQL tests when a test server is configured; without
//! one they are reported as ignored, never as passed.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    println!("cargo::rerun-if-env-changed=SWITCHBOARD_TEST_POSTGRES_URL");
    if std::env::var("SWITCHBOARD_TEST_POSTGRES_URL").is_ok_and(|u| !u.is_empty()) {
        println!("cargo::rustc-cfg=postgres_tests");
    }
}
