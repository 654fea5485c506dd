// CIN census codes in words: web/codes.json is services/referral/codes.py as JSON
// (tests/unit/test_web_codes.py keeps the two the same).

let loaded = null;

export async function codes() {
  if (!loaded) {
    const response = await fetch("/codes.json", { credentials: "same-origin" });
    const doc = await response.json();
    loaded = { sources: doc.sources, concerns: doc.concerns, sourceName: new Map(doc.sources), concernName: new Map(doc.concerns) };
  }
  return loaded;
}
