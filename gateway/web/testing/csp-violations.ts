/**
 * Collects every Content-Security-Policy violation a page reports, so a browser test fails on
 * one: Chromium logs each refusal to the console ("Refused to ... because it violates the
 * following Content Security Policy directive"), and the page's `securitypolicyviolation`
 * event is turned into such a console line too (report-only policies and blocked inline
 * attributes included).
 */
import type { Page } from "playwright-core";

/** Starts watching `page` (call before its first navigation); the list fills as violations occur. */
export async function watchCspViolations(page: Page): Promise<string[]> {
  const violations: string[] = [];
  page.on("console", (message) => {
    const text = message.text();
    if (text.includes("Content Security Policy")) violations.push(text);
  });
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      console.error(
        `Content Security Policy violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline content"}`,
      );
    });
  });
  return violations;
}
