import type { IncomingMessage } from 'node:http';
import { parsePortList, parsePortName, PortAnnouncementError } from '../protocol/port-announcement.js';
import { headerValue } from './request-url.js';

/** A listener's Hybridge-Ports: the names, undefined when absent, or the error that refuses it (400). */
export function announcedPorts(req: IncomingMessage): string[] | undefined | PortAnnouncementError {
  const value = headerValue(req, 'hybridge-ports');
  if (value === undefined) return undefined;
  try {
    return parsePortList(value);
  } catch (err) {
    return err as PortAnnouncementError;
  }
}

/** A sender's Hybridge-Port: the name, undefined when absent, or the error that refuses it (400). */
export function wantedPort(req: IncomingMessage): string | undefined | PortAnnouncementError {
  const value = headerValue(req, 'hybridge-port');
  if (value === undefined) return undefined;
  try {
    return parsePortName(value.trim());
  } catch (err) {
    return err as PortAnnouncementError;
  }
}
