/**
 * Element construction for a page without a framework: one call per element with its
 * attributes and children, so the components read like the markup they produce and never
 * build HTML from strings (no injection through server-provided labels or messages).
 */

/** Attribute values; `false` and `undefined` omit the attribute, `true` sets it empty. */
export type Attributes = Readonly<Record<string, string | number | boolean | undefined>>;

/** A child: an element, or text (set as a text node, never parsed as HTML). */
export type Child = Node | string;

function apply(element: Element, attributes: Attributes, children: readonly Child[]): void {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...children);
}

/** An HTML element. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  apply(element, attributes, children);
  return element;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** An SVG element. */
export function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG_NS, tag);
  apply(element, attributes, children);
  return element;
}

/** The element with `id`, of the expected type; throws naming the id when index.html lacks it. */
export function byId<T extends HTMLElement>(id: string, type: new () => T): T {
  const element = document.getElementById(id);
  if (!(element instanceof type)) throw new Error(`index.html has no <${type.name}> with id "${id}"`);
  return element;
}
