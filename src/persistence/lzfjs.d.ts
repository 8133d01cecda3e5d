/** Types for lzfjs (pure-JS port of liblzf), which ships none. */
declare module 'lzfjs' {
  const lzf: {
    compress(data: ArrayBuffer | Uint8Array): Uint8Array;
    decompress(data: ArrayBuffer | Uint8Array): Uint8Array;
  };
  export default lzf;
}
