import { Injectable, PipeTransform } from '@nestjs/common';
import { COLLECTION_NAME_PATTERN, KeelError } from '@keel/contracts';

/** Path parameters are validated like body fields, with their own stable code. */
@Injectable()
export class CollectionNamePipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!COLLECTION_NAME_PATTERN.test(value)) {
      throw new KeelError(
        'INVALID_COLLECTION_NAME',
        `collection name must match ${COLLECTION_NAME_PATTERN.source}`,
        [{ field: 'name', message: `must match ${COLLECTION_NAME_PATTERN.source}` }],
      );
    }
    return value;
  }
}
