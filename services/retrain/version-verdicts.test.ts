import { describe, expect, it } from "vitest";
import { useTempStore } from "./testing/temp-store.js";
import { VersionVerdicts, wilsonInterval } from "./version-verdicts.js";

describe("wilsonInterval", () => {
  it("matches the textbook values and stays inside [0, 1]", () => {
    // Wilson (1927) / Newcombe (1998): 81 of 263 -> 0.2553 to 0.3662.
    const { low, high } = wilsonInterval(81, 263);
    expect(low).toBeCloseTo(0.2553, 4);
    expect(high).toBeCloseTo(0.3662, 4);
    expect(wilsonInterval(0, 10).low).toBe(0);
    expect(wilsonInterval(10, 10).high).toBe(1);
    expect(wilsonInterval(10, 10).low).toBeCloseTo(0.7225, 4);
    expect(wilsonInterval(0, 0)).toEqual({ low: 0, high: 0 });
  });
});

describe("VersionVerdicts", () => {
  const database = useTempStore();

  it("counts the stored feedback per version at start, then follows new verdicts, newest version first", () => {
    const db = database();
    const insert = db.prepare<[number, string, number, string]>(
      `INSERT INTO feedback (seq, feedback_id, prediction_id, verdict, label, features, predicted_diagnosis,
         probability, model_version, issued_at_ms, received_at_ms)
       VALUES (?, 'f', ?, ?, NULL, x'00', 1, 0.5, ?, 0, 0)`,
    );
    const rows: [number, string][] = [
      [1, "v2"],
      [1, "v2"],
      [2, "v2"],
      [3, "v2"],
      [1, "v10"],
      [2, "v1"],
    ];
    rows.forEach(([verdict, version], i) => insert.run(i + 1, `p${i}`, verdict, version));
    const verdicts = VersionVerdicts.load(db);
    verdicts.add("v10", 2);
    verdicts.add("v11", 3);
    const messages = verdicts.messages();
    expect(messages.map((m) => m.modelVersion)).toEqual(["v11", "v10", "v2", "v1"]);
    expect(messages[0]).toMatchObject({
      correct: 0,
      wrong: 0,
      unknown: 1,
      accuracy: 0,
      accuracyLow: 0,
      accuracyHigh: 0,
    });
    expect(messages[1]).toMatchObject({ correct: 1, wrong: 1, unknown: 0, accuracy: 0.5 });
    expect(messages[2]).toMatchObject({ correct: 2, wrong: 1, unknown: 1 });
    expect(messages[2]?.accuracy).toBeCloseTo(2 / 3, 15);
    expect(messages[3]).toMatchObject({ correct: 0, wrong: 1, accuracy: 0 });
    expect(verdicts.messages(2)).toHaveLength(2);
  });
});
