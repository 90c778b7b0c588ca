//! Compile-fail tests of the macros: every misuse is an error that says what is wrong and
//! where (the expected compiler output is in `tests/ui/*.stderr`; regenerate it with
//! `TRYBUILD=overwrite cargo test -p aitp-tests --test ui` and read the diff). Set
//! `AITP_UI=ui/handler_*.rs` to run some of the cases.

#[test]
fn macro_misuse_is_a_clear_compile_error() {
    let t = trybuild::TestCases::new();
    t.compile_fail(std::env::var("AITP_UI").unwrap_or_else(|_| "ui/*.rs".to_owned()));
}
