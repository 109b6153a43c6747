//! Hydrates the server-rendered console in the browser.

// Leptos view types nest deeply; the release wasm build needs the headroom.
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // Event handlers are attached once hydrate_body returns. Browser tests
    // wait for this marker before clicking, so a click never lands on inert
    // server-rendered HTML.
    if let Some(body) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
    {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
