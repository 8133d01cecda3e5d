/** The crash-safe replace: write a temp file in the target's directory, fsync it, rename it over the target, fsync the directory. */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync } from 'node:fs';
import { open, rename, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

let serial = 0;

/** A temp path beside `finalPath` (same filesystem, so rename is atomic), like Redis's temp-<pid>.rdb. */
export function tempPathFor(finalPath: string): string {
  return join(dirname(finalPath), `temp-${process.pid}-${++serial}-${basename(finalPath)}`);
}

/** Makes a completed rename durable: the directory entry itself must reach the disk. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** fsyncs the open temp file `fd`, closes it, renames it to `finalPath` and fsyncs the directory. */
export function commitTempFile(fd: number, tempPath: string, finalPath: string): void {
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tempPath, finalPath);
  fsyncDir(dirname(finalPath));
}

/** The same as commitTempFile for an async handle, so the event loop keeps running while the disk syncs. */
export async function commitTempHandle(handle: FileHandle, tempPath: string, finalPath: string): Promise<void> {
  await handle.sync();
  await handle.close();
  await rename(tempPath, finalPath);
  const dir = await open(dirname(finalPath), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Removes a temp file after a failed write; a missing file is fine. */
export function discardTempFile(tempPath: string): void {
  try {
    unlinkSync(tempPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
