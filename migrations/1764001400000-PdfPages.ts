import { MigrationInterface, QueryRunner } from 'typeorm';

export class PdfPages1764001400000 implements MigrationInterface {
  name = 'PdfPages1764001400000';

  /**
   * A COMPLETED report's page count, counted as its PDF is joined, for the `pdf` of its callback and
   * of its status. Reports completed before have none (their PDF is not read back to count them):
   * their `pdf.pages` is null, while `bytes` and `sha256` come from pdf_size and pdf_etag as ever.
   */
  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE reports ADD COLUMN pdf_pages integer`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE reports DROP COLUMN pdf_pages`);
  }
}
