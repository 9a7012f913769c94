import { describe, expect, it } from "vitest";
import { parseWhoami } from "./src/signed-in-user.js";

describe("parseWhoami", () => {
  it("reads a signed-in answer and treats anything else as nobody", () => {
    expect(parseWhoami({ signedIn: true, subject: "alice", principal: "iss|alice" })).toEqual({
      signedIn: true,
      subject: "alice",
      principal: "iss|alice",
      admin: false,
    });
    expect(parseWhoami({ signedIn: true, subject: "alice" })).toEqual({
      signedIn: true,
      subject: "alice",
      principal: "alice",
      admin: false,
    });
    // Only a literal true shows the approval buttons.
    expect(parseWhoami({ signedIn: true, subject: "root", admin: true })).toMatchObject({ admin: true });
    expect(parseWhoami({ signedIn: true, subject: "root", admin: "true" })).toMatchObject({ admin: false });
    for (const odd of [
      null,
      "alice",
      1,
      [],
      { signedIn: "true", subject: "a" },
      { signedIn: true },
      { signedIn: false, subject: "a" },
    ]) {
      expect(parseWhoami(odd)).toEqual({ signedIn: false });
    }
  });
});
