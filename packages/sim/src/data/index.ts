export {
  CsvFormatError,
  DatasetError,
  DatasetNotFoundError,
  IdxFormatError,
  type DatasetErrorCode,
} from './errors.js';
export {
  encodeIdx,
  isGzip,
  pairImagesAndLabels,
  parseIdx,
  readIdxFile,
  readIdxImageSet,
  writeIdxFile,
  type IdxArray,
  type IdxImageSet,
} from './idx.js';
export { loadCsvData, parseCsvData, type CsvData, type CsvLoadOptions } from './csv.js';
export {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_FEATURES,
  FASHION_MNIST_IMAGE_SIZE,
  FASHION_MNIST_NUM_CLASSES,
  FASHION_MNIST_SUBSET_DIR,
  FASHION_MNIST_SYSTEM_DIR,
  FLOCK_DATA_ENV,
  findFashionMnistFiles,
  loadFashionMnist,
  resolveFashionMnistDir,
  type FashionMnistData,
  type FashionMnistSource,
  type FashionMnistSplit,
  type LoadFashionMnistOptions,
  type ResolveFashionMnistOptions,
  type ResolvedFashionMnist,
} from './fashion-mnist.js';
