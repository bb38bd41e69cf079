// Files imported with `with { type: "file" }` (scripts/build.ts embeds libane this way):
// the import's value is the path of the file inside the compiled executable.
declare module "*.so" {
  const path: string;
  export default path;
}
declare module "*.dylib" {
  const path: string;
  export default path;
}
declare module "*.txt" {
  const path: string;
  export default path;
}
