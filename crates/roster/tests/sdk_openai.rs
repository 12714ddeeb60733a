//! The official OpenAI Python SDK (`openai==3.51.0`, its admin API client)
//! against the real binary, through `tests/e2e/openai_sdk.py`.

mod sdk;

#[test]
fn openai_python_sdk_end_to_end() {
    sdk::run_sdk_script("openai_sdk.py", "openai==3.51.0");
}
