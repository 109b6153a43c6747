import { test, expect, hydrated } from "./fixtures";

// Every page is served with a nonce-based Content-Security-Policy (no
// 'unsafe-inline'); Leptos's hydration and resource scripts must carry the
// nonce and the wasm must load, or the console is dead in the browser.
const pages = [
  "/",
  "/agents/release-engineer",
  "/config",
  "/providers",
  "/jobs",
  "/runs",
  "/drill",
  "/access",
  "/no-such-page",
];

test("every page hydrates under its CSP without a violation", async ({ page }) => {
  const refused: string[] = [];
  page.on("console", (m) => {
    if (/content security policy|refused to/i.test(m.text())) refused.push(m.text());
  });
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as any).__cspViolations = seen;
    document.addEventListener("securitypolicyviolation", (e) =>
      seen.push(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  for (const path of pages) {
    const response = await page.goto(path);
    const policy = response!.headers()["content-security-policy"];
    expect(policy, path).toContain("'nonce-");
    expect(policy, path).toContain("frame-ancestors 'none'");
    expect(policy, path).not.toContain("unsafe-inline");
    await hydrated(page);
    expect(await page.evaluate(() => (window as any).__cspViolations), path).toEqual([]);
  }
  expect(refused).toEqual([]);
});

test("the login page hydrates under its CSP", async ({ anonymous }) => {
  const violations: string[] = [];
  anonymous.on("console", (m) => {
    if (/content security policy|refused to/i.test(m.text())) violations.push(m.text());
  });
  const response = await anonymous.goto("/login");
  expect(response!.headers()["content-security-policy"]).toContain("'nonce-");
  await hydrated(anonymous);
  expect(violations).toEqual([]);
});

test("an inline script without the nonce does not run", async ({ page }) => {
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as any).__cspViolations = seen;
    document.addEventListener("securitypolicyviolation", (e) => seen.push(e.violatedDirective));
  });
  await page.goto("/");
  await hydrated(page);
  // What markup injection would do: the script is added, and refused.
  await page.evaluate(() => {
    const script = document.createElement("script");
    script.textContent = "window.__injected = true";
    document.body.appendChild(script);
  });
  await expect
    .poll(() => page.evaluate(() => (window as any).__cspViolations))
    .toContain("script-src-elem");
  expect(await page.evaluate(() => (window as any).__injected)).toBeUndefined();
});
