/** Types for lzfjs, the reference LZF port the tests compare against; it ships none. */
declare module 'lzfjs' {
  const lzf: {
    compress(data: ArrayBuffer | Uint8Array): Uint8Array;
    decompress(data: ArrayBuffer | Uint8Array): Uint8Array;
  };
  export default lzf;
}
