/**
 * Maps keyed by names from the network (header names, JSON keys) are plain objects, and a plain
 * assignment `map[name] = value` does not create a property for `__proto__` (it sets the prototype,
 * or does nothing) and reads inherited ones for `constructor` or `toString`. These two helpers make
 * every name an ordinary own property.
 */
export function setOwn<T>(target: Record<string, T>, name: string, value: NoInfer<T>): void {
  Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
}

export function getOwn<T>(source: Record<string, T>, name: string): T | undefined {
  return Object.hasOwn(source, name) ? source[name] : undefined;
}
