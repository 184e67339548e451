import { barcodeSvg, diagramSvg, MAX_BARS } from "./pictures";

const diagrams = [
  {
    dimension: 0,
    intervals: [
      { birth: 0, death: 0.5 },
      { birth: 0, death: Infinity },
    ],
  },
  { dimension: 1, intervals: [{ birth: 0.7, death: 1.2 }] },
];

describe("SVG pictures", () => {
  it("draws one point per interval in the diagram, infinite deaths on the top row", () => {
    const svg = diagramSvg(diagrams, { width: 300, title: "job <1>" });
    expect(svg).toMatch(/^<\?xml[^>]*>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="300" height="300"/);
    expect(svg.match(/<circle /g)).toHaveLength(3);
    expect(svg).toContain("<title>job &lt;1&gt;</title>");
    expect(svg).not.toMatch(/NaN|Infinity/);
    // The infinite bar sits at the ∞ row (y = top margin - 12 = 16).
    expect(svg).toMatch(/<circle cx="[\d.]+" cy="16" r="3"\/>/);
  });

  it("draws one bar per interval in the barcode, grouped by dimension", () => {
    const svg = barcodeSvg(diagrams);
    expect(svg.match(/<rect x=/g)?.length).toBe(1 + 3); // background + 3 bars
    expect(svg).toContain('class="infinite"');
    expect(svg).toContain(">H0<");
    expect(svg).toContain(">H1<");
    expect(svg).not.toMatch(/NaN|Infinity/);
  });

  it("caps the number of bars and says how many were left out", () => {
    const many = [{ dimension: 0, intervals: Array.from({ length: MAX_BARS + 500 }, (_, i) => ({ birth: 0, death: i + 1 })) }];
    const svg = barcodeSvg(many);
    expect(svg.match(/<rect x=/g)?.length).toBe(1 + MAX_BARS);
    expect(svg).toContain("500 shorter bars not drawn");
  });

  it("copes with an empty result", () => {
    expect(diagramSvg([])).toContain("</svg>");
    expect(barcodeSvg([])).toContain("</svg>");
  });
});
