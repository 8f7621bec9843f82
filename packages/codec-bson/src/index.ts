export {
  BSON_MAX_DOCUMENT_SIZE,
  BSON_WRAPPER_FIELD,
  BsonCodec,
  type BsonCodecOptions,
  bsonCodec,
  createBsonCodec,
  type Int64Mode,
} from './bson-codec.js';
