import { createSocket, RemoteInfo, Socket } from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';

/** What the server does with a name: its addresses, NXDOMAIN, or no answer at all. */
export type Zone = (name: string) => string[] | 'nxdomain' | 'silent';

const TYPE_A = 1;
const TYPE_AAAA = 28;

/** The question's name (lower case, no trailing dot), its type, and where the question ends. */
function question(packet: Buffer): { name: string; type: number; end: number } {
  const labels: string[] = [];
  let offset = 12;
  while (packet[offset] !== 0) {
    const length = packet[offset];
    labels.push(packet.subarray(offset + 1, offset + 1 + length).toString('latin1'));
    offset += 1 + length;
  }
  offset += 1;
  return {
    name: labels.join('.').toLowerCase(),
    type: packet.readUInt16BE(offset),
    end: offset + 4,
  };
}

function addressBytes(address: string): Buffer {
  if (isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  // Expands '::' and reads eight groups of 16 bits.
  const [head, tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  const bytes = Buffer.alloc(16);
  groups.forEach((group, i) => bytes.writeUInt16BE(parseInt(group, 16), i * 2));
  return bytes;
}

/**
 * A real DNS server on a UDP port of loopback, for one zone of test names: enough of RFC 1035 for A
 * and AAAA questions. A 'silent' name is never answered, as a zone whose nameserver is down.
 */
export class TestDnsServer {
  private socket?: Socket;
  port = 0;
  /** Questions received, by name. */
  readonly asked: string[] = [];

  constructor(private readonly zone: Zone) {}

  async start(): Promise<this> {
    const socket = createSocket('udp4');
    socket.on('message', (packet: Buffer, from: RemoteInfo) => this.answer(socket, packet, from));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    this.socket = socket;
    this.port = socket.address().port;
    return this;
  }

  /** As CALLBACK_DNS_SERVERS names it. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  private answer(socket: Socket, packet: Buffer, from: RemoteInfo): void {
    const { name, type, end } = question(packet);
    this.asked.push(name);
    const entry = this.zone(name);
    if (entry === 'silent') return;
    const header = Buffer.alloc(12);
    packet.copy(header, 0, 0, 2); // the query's id
    const records =
      entry === 'nxdomain'
        ? []
        : entry.filter((address) =>
            type === TYPE_A ? isIPv4(address) : type === TYPE_AAAA && isIPv6(address),
          );
    // QR, RD, RA; RCODE 3 (NXDOMAIN) for a name that does not exist.
    header.writeUInt16BE(entry === 'nxdomain' ? 0x8183 : 0x8180, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(records.length, 6);
    const answers = records.map((address) => {
      const data = addressBytes(address);
      const record = Buffer.alloc(12);
      record.writeUInt16BE(0xc00c, 0); // the question's name
      record.writeUInt16BE(type, 2);
      record.writeUInt16BE(1, 4); // IN
      record.writeUInt32BE(60, 6);
      record.writeUInt16BE(data.length, 10);
      return Buffer.concat([record, data]);
    });
    socket.send(
      Buffer.concat([header, packet.subarray(12, end), ...answers]),
      from.port,
      from.address,
    );
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) =>
      this.socket ? this.socket.close(() => resolve()) : resolve(),
    );
  }
}
