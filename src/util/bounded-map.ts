/**
 * Stores `value` as the newest entry of `map`; when the map then holds more than `max` entries, the
 * oldest goes. Maps keep insertion order, so a key set again becomes the newest.
 */
export function setNewest<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value as K);
}
