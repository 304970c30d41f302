import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import { TensorReadError } from './errors';

/**
 * Random access to the bytes of a file, so that headers can be read without reading the data
 * (hovers and explorer badges depend on it). The same parsers run on a file on disk (CLI, worker)
 * and on bytes already in memory (an extension reading through workspace.fs, tests).
 */
export interface ByteSource {
  /** How the file is named in messages: the path or URI as the user gave it. */
  readonly name: string;
  readonly size: number;
  /**
   * Exactly `length` bytes at `offset`, or a TensorReadError('truncated') if the file is shorter.
   * The returned bytes may be a view into a shared buffer: copy before mutating.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Like read, but the caller owns the result (a fresh buffer, or a view the source no longer
   * uses), so it may be byte-swapped or reinterpreted in place and kept.
   */
  readOwned(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

function checkRange(name: string, size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new TensorReadError('bad-header', name, `invalid byte range ${offset}+${length}`);
  }
  if (offset + length > size) {
    throw new TensorReadError(
      'truncated',
      name,
      `file is truncated: needs bytes ${offset}..${offset + length} but has ${size}`,
    );
  }
}

export interface FileSourceOptions {
  /**
   * Allocate the buffers of `readOwned` as SharedArrayBuffers, so that the arrays read can be
   * handed to worker threads without copying (see cornernet/parallel.ts). Default false.
   */
  shared?: boolean;
}

let blocking = false;

/**
 * Read files with blocking calls from now on, in this thread. For the CLI, where nothing else
 * waits: a small read then costs microseconds instead of a round trip through the thread pool
 * (the 17 headers and 13 small arrays of a batch: ~20 ms less). Never on the extension host.
 */
export function useBlockingReads(on: boolean): void {
  blocking = on;
}

/**
 * stat, readdir and readFile for finding the inputs: blocking calls under useBlockingReads (no
 * thread-pool round trip per file), fs.promises otherwise.
 */
export const inputFs = {
  async stat(p: string): Promise<fs.Stats> {
    return blocking ? fs.statSync(p) : fsp.stat(p);
  },
  async readdir(p: string): Promise<string[]> {
    return blocking ? fs.readdirSync(p) : fsp.readdir(p);
  },
  /**
   * A small text file (a manifest, a class list): refused unless it is a regular file of at most
   * `maxBytes`, checked on the open descriptor, and never more than `maxBytes + 1` bytes read, so a
   * symlink to /dev/zero, a FIFO or a file that grows while read cannot hold the reader.
   */
  async readText(p: string, maxBytes: number): Promise<string> {
    const bytes = blocking ? readSmallFileSync(p, maxBytes) : await readSmallFile(p, maxBytes);
    return new TextDecoder('utf-8').decode(bytes);
  },
};

/** Why a small file cannot be read as text: thrown by inputFs.readText. */
export class SmallFileError extends Error {}

function checkSmallFile(st: fs.Stats, maxBytes: number): void {
  if (!st.isFile()) throw new SmallFileError(`not a regular file: it is ${fileKind(st)}`);
  if (st.size > maxBytes) throw new SmallFileError(`larger than ${maxBytes} bytes (${st.size})`);
}

function readSmallFileSync(p: string, maxBytes: number): Uint8Array {
  let fd: number;
  try {
    fd = fs.openSync(p, OPEN_FLAGS);
  } catch (e) {
    throw new SmallFileError(describeIoError(e));
  }
  try {
    checkSmallFile(fs.fstatSync(fd), maxBytes);
    const buf = new Uint8Array(maxBytes + 1);
    const n = readFullySync(fd, buf, 0);
    if (n > maxBytes) throw new SmallFileError(`larger than ${maxBytes} bytes (it grew while read)`);
    return buf.subarray(0, n);
  } catch (e) {
    if (e instanceof SmallFileError) throw e;
    throw new SmallFileError(describeIoError(e));
  } finally {
    fs.closeSync(fd);
  }
}

async function readSmallFile(p: string, maxBytes: number): Promise<Uint8Array> {
  let h: fsp.FileHandle;
  try {
    h = await fsp.open(p, OPEN_FLAGS);
  } catch (e) {
    throw new SmallFileError(describeIoError(e));
  }
  try {
    checkSmallFile(await h.stat(), maxBytes);
    const buf = new Uint8Array(maxBytes + 1);
    let n = 0;
    while (n < buf.length) {
      const { bytesRead } = await h.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    if (n > maxBytes) throw new SmallFileError(`larger than ${maxBytes} bytes (it grew while read)`);
    return buf.subarray(0, n);
  } catch (e) {
    if (e instanceof SmallFileError) throw e;
    throw new SmallFileError(describeIoError(e));
  } finally {
    await h.close().catch(() => undefined);
  }
}

/**
 * Fills `bytes` from `position` of an open file with blocking reads (a read may return less than
 * asked); returns the bytes read, fewer only at the end of the file.
 */
export function readFullySync(fd: number, bytes: Uint8Array, position: number): number {
  let done = 0;
  while (done < bytes.length) {
    const got = fs.readSync(fd, bytes, done, bytes.length - done, position + done);
    if (got === 0) break;
    done += got;
  }
  return done;
}

/** The part of a FileHandle a file source uses. */
interface Handle {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  stat(): Promise<fs.Stats>;
  close(): Promise<void>;
}

/**
 * Read-only and non-blocking: opening a FIFO for reading otherwise waits for a writer forever, and
 * the file's type is only known once it is open (fstat on the descriptor, no race with a rename).
 * For regular files O_NONBLOCK changes nothing.
 */
const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);

/** What a path that is not a regular file is, for messages. */
export function fileKind(st: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'a special file';
}

/** A Handle over blocking calls (see useBlockingReads). */
function openBlockingHandle(path: string): Handle {
  const fd = fs.openSync(path, OPEN_FLAGS);
  let closed = false;
  return {
    read: async (buffer, offset, length, position) => ({ bytesRead: fs.readSync(fd, buffer, offset, length, position) }),
    stat: async () => fs.fstatSync(fd),
    close: async () => {
      if (closed) return;
      closed = true;
      fs.closeSync(fd);
    },
  };
}

/** A file on disk, read with positioned reads (no whole-file read for a header). */
export async function openFileSource(path: string, name = path, options: FileSourceOptions = {}): Promise<ByteSource> {
  let handle: Handle;
  try {
    handle = blocking ? openBlockingHandle(path) : await fsp.open(path, OPEN_FLAGS);
  } catch (e) {
    throw new TensorReadError('io', name, describeIoError(e));
  }
  let size: number;
  try {
    const st = await handle.stat();
    if (!st.isFile()) {
      await handle.close();
      throw new TensorReadError('io', name, `not a regular file: it is ${fileKind(st)}`);
    }
    size = st.size;
  } catch (e) {
    await handle.close().catch(() => undefined);
    if (e instanceof TensorReadError) throw e;
    throw new TensorReadError('io', name, describeIoError(e));
  }
  const readInto = async (offset: number, length: number, shared = false): Promise<Uint8Array> => {
    checkRange(name, size, offset, length);
    // A fresh buffer per read: the caller may keep views into it (zero-copy arrays).
    const out = new Uint8Array(shared ? new SharedArrayBuffer(length) : new ArrayBuffer(length));
    let done = 0;
    try {
      while (done < length) {
        const { bytesRead } = await handle.read(out, done, length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
    } catch (e) {
      throw new TensorReadError('io', name, describeIoError(e));
    }
    if (done < length) {
      throw new TensorReadError('truncated', name, `file changed while reading: got ${done} of ${length} bytes at ${offset}`);
    }
    return out;
  };
  return {
    name,
    size,
    read: (offset, length) => readInto(offset, length),
    readOwned: (offset, length) => readInto(offset, length, options.shared === true),
    close: () => handle.close().catch(() => undefined),
  };
}

/** Bytes already in memory. `read` returns views; `readOwned` copies. */
export function memorySource(name: string, bytes: Uint8Array): ByteSource {
  return {
    name,
    size: bytes.byteLength,
    async read(offset, length) {
      checkRange(name, bytes.byteLength, offset, length);
      return bytes.subarray(offset, offset + length);
    },
    async readOwned(offset, length) {
      checkRange(name, bytes.byteLength, offset, length);
      return bytes.slice(offset, offset + length);
    },
    async close() {},
  };
}

export function describeIoError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err?.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ELOOP':
      return 'a symbolic link loop (too many levels of symbolic links)';
    case 'ENXIO':
      return 'a socket or device that cannot be read';
    case 'EMFILE':
      return 'too many open files';
    default:
      return err?.message ? `cannot read: ${err.message}` : 'cannot read';
  }
}
